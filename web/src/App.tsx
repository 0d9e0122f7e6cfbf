import { useEffect, useState } from "react";
import { ApiError, call } from "./lib/api";
import { KeystoreError, importSecretKey, lockKey, newSecretKey, unlockKey, type LockedKey } from "./lib/keystore";
import { LoginRefusal } from "./lib/login";
import { walletLogin, type Session } from "./lib/session";

const LOCKED_KEY = "tollway.wallet";
const SESSION = "tollway.session";

function storedKey(): LockedKey | undefined {
  const text = localStorage.getItem(LOCKED_KEY);
  return text ? (JSON.parse(text) as LockedKey) : undefined;
}

function storedSession(): Session | undefined {
  const text = sessionStorage.getItem(SESSION);
  const session = text ? (JSON.parse(text) as Session) : undefined;
  return session && session.expires_at > Date.now() ? session : undefined;
}

/** Words a person can act on, for every failure. */
function explain(e: unknown): string {
  if (e instanceof KeystoreError) {
    if (e.code === "wrong_passphrase") return "That passphrase does not open this wallet. Try again.";
    if (e.code === "invalid_key") return "That is not a valid secret key: paste 0x and 64 hex digits.";
    return "This wallet was saved in a format this page does not know.";
  }
  if (e instanceof LoginRefusal) {
    if (e.code === "wrong_site") return `The server asked to sign a login for another site. Open the app at the server's own address.`;
    return "The server's challenge was not for this wallet; nothing was signed.";
  }
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  return String(e);
}

export function App() {
  const [locked, setLocked] = useState<LockedKey | undefined>(storedKey);
  const [session, setSession] = useState<Session | undefined>(storedSession);
  const [balance, setBalance] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!session) return;
    call<{ balance: string }>("GET", "/api/user/points/balance", undefined, session.api_key)
      .then((b) => setBalance(b.balance))
      .catch((e) => {
        if (e instanceof ApiError && e.code === "session_expired") {
          sessionStorage.removeItem(SESSION);
          setSession(undefined);
        }
        setError(explain(e));
      });
  }, [session]);

  const run = (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    work()
      .catch((e) => setError(explain(e)))
      .finally(() => setBusy(false));
  };

  return (
    <main className="page">
      <header>
        <h1>Tollway</h1>
        <p className="tagline">Pay for AI per token, from a wallet whose key never leaves this browser.</p>
      </header>
      {error && <p role="alert" className="error">{error}</p>}
      {session ? (
        <section className="card" aria-label="Signed in">
          <h2>Signed in</h2>
          <p>User <strong>{session.handle}</strong></p>
          <p>Points: <strong data-testid="balance">{balance ?? "…"}</strong></p>
          <button onClick={() => { sessionStorage.removeItem(SESSION); setSession(undefined); setBalance(undefined); }}>Sign out</button>
        </section>
      ) : locked ? (
        <UnlockForm locked={locked} busy={busy} onForget={() => { localStorage.removeItem(LOCKED_KEY); setLocked(undefined); }}
          onUnlock={(passphrase) => run(async () => {
            const secret = await unlockKey(locked, passphrase);
            const opened = await walletLogin(secret, window.location.origin);
            secret.fill(0);
            sessionStorage.setItem(SESSION, JSON.stringify(opened));
            setSession(opened);
          })} />
      ) : (
        <CreateForm busy={busy} onCreate={(secretText, passphrase) => run(async () => {
          const secret = secretText ? importSecretKey(secretText) : newSecretKey();
          const saved = await lockKey(secret, passphrase);
          secret.fill(0);
          localStorage.setItem(LOCKED_KEY, JSON.stringify(saved));
          setLocked(saved);
        })} />
      )}
    </main>
  );
}

function CreateForm(props: { busy: boolean; onCreate: (secret: string, passphrase: string) => void }) {
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

function UnlockForm(props: { locked: LockedKey; busy: boolean; onUnlock: (passphrase: string) => void; onForget: () => void }) {
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
