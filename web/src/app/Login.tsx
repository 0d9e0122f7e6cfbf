// Signing in: create or import a wallet key (locked with a passphrase,
// kept in this browser only), unlock it to sign the server's challenge,
// or use an API key for users without a wallet.
import { useState } from "react";
import type { LockedKey } from "../lib/keystore";

/** Create a new key or import one, locked with a passphrase typed twice. */
export function CreateForm(props: { busy: boolean; onCreate: (secret: string, passphrase: string) => void }) {
  const [secret, setSecret] = useState("");
  const [passphrase, setPassphrase] = useState("");
  const [again, setAgain] = useState("");
  const mismatch = again.length > 0 && again !== passphrase;
  return (
    <form className="card" aria-label="Create or import a wallet" onSubmit={(e) => { e.preventDefault(); props.onCreate(secret.trim(), passphrase); }}>
      <h2>Your wallet</h2>
      <p>Create a new key, or paste one you have. It is kept in this browser only, locked with your passphrase.</p>
      <label>Secret key to import (leave empty to create a new one)
        <input value={secret} onChange={(e) => setSecret(e.target.value)} placeholder="0x…" autoComplete="off" spellCheck={false} />
      </label>
      <label>Passphrase
        <input type="password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} autoComplete="new-password" />
      </label>
      <label>Passphrase again
        <input type="password" value={again} onChange={(e) => setAgain(e.target.value)} autoComplete="new-password" />
      </label>
      {mismatch && <p className="hint">The two passphrases differ.</p>}
      <button type="submit" disabled={props.busy || passphrase.length < 8 || again !== passphrase}>
        {props.busy ? "Locking…" : secret ? "Import and lock" : "Create and lock"}
      </button>
      {passphrase.length > 0 && passphrase.length < 8 && <p className="hint">Use at least 8 characters.</p>}
    </form>
  );
}

/** The stored wallet, unlocked with its passphrase to sign in. */
export function UnlockForm(props: { locked: LockedKey; busy: boolean; onUnlock: (passphrase: string) => void; onForget: () => void }) {
  const [passphrase, setPassphrase] = useState("");
  return (
    <form className="card" aria-label="Sign in with your wallet" onSubmit={(e) => { e.preventDefault(); props.onUnlock(passphrase); }}>
      <h2>Sign in with your wallet</h2>
      <p>Wallet <code data-testid="key-id">0x{props.locked.keyId}</code></p>
      <label>Passphrase
        <input type="password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} autoComplete="current-password" autoFocus />
      </label>
      <button type="submit" disabled={props.busy || passphrase.length === 0}>{props.busy ? "Signing in…" : "Sign in"}</button>
      <button type="button" className="quiet" onClick={props.onForget}>Forget this wallet</button>
    </form>
  );
}

/** Sign in with an API key instead (`tw_…`, from an admin or `tollway admin create-user`). */
export function ApiKeyForm(props: { busy: boolean; onSubmit: (key: string) => void }) {
  const [key, setKey] = useState("");
  return (
    <form className="card" aria-label="Sign in without a wallet" onSubmit={(e) => { e.preventDefault(); props.onSubmit(key.trim()); }}>
      <h2>Or use an API key</h2>
      <p className="hint">For accounts without a wallet. The key is kept for this tab only.</p>
      <label>API key
        <input type="password" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" spellCheck={false} />
      </label>
      <button type="submit" className="secondary" disabled={props.busy || key.length === 0}>Sign in with the key</button>
    </form>
  );
}
