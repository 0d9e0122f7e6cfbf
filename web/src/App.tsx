// The app's shell: sign in (wallet or API key), then the pages, chosen by
// the address's hash (`#/chat`, `#/channels`, `#/points`, `#/hub`, `#/pay`,
// `#/admin/...`). The checkout (`#/pay`) is open without signing in too.
import { useCallback, useEffect, useMemo, useState } from "react";
import { AppContext, type AppContextValue, type Balance, type Me } from "./app/context";
import { explain } from "./app/explain";
import { ApiKeyForm, CreateForm, UnlockForm } from "./app/Login";
import { ApiError, call } from "./lib/api";
import { points } from "./lib/format";
import { importSecretKey, lockKey, newSecretKey, unlockKey, type LockedKey } from "./lib/keystore";
import { walletLogin } from "./lib/session";
import { AdminPage } from "./pages/admin/AdminPage";
import { ChannelsPage } from "./pages/ChannelsPage";
import { ChatPage } from "./pages/ChatPage";
import { HubPage } from "./pages/HubPage";
import { PayPage } from "./pages/PayPage";
import { PointsPage } from "./pages/PointsPage";

const LOCKED_KEY = "tollway.wallet";
const SESSION = "tollway.session";

/** What is kept for the tab: the session's API key and when it ends. */
interface StoredSession {
  api_key: string;
  expires_at?: number;
}

function storedKey(): LockedKey | undefined {
  const text = localStorage.getItem(LOCKED_KEY);
  return text ? (JSON.parse(text) as LockedKey) : undefined;
}

function storedSession(): StoredSession | undefined {
  const text = sessionStorage.getItem(SESSION);
  const session = text ? (JSON.parse(text) as StoredSession) : undefined;
  return session && (session.expires_at === undefined || session.expires_at > Date.now()) ? session : undefined;
}

/** The pages, by the first part of the hash. */
const PAGES = [
  { path: "chat", title: "Chat", admin: false },
  { path: "channels", title: "Channels", admin: false },
  { path: "points", title: "Points", admin: false },
  { path: "hub", title: "Hub", admin: false },
  { path: "pay", title: "Buy", admin: false },
  { path: "admin", title: "Admin", admin: true },
] as const;

function currentRoute(): string[] {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return parts.length ? parts : ["chat"];
}

export function App() {
  const [locked, setLocked] = useState<LockedKey | undefined>(storedKey);
  const [session, setSession] = useState<StoredSession | undefined>(storedSession);
  const [me, setMe] = useState<Me>();
  const [balance, setBalance] = useState<Balance>();
  const [secret, setSecret] = useState<Uint8Array>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [route, setRoute] = useState(currentRoute);
  const [balanceTick, setBalanceTick] = useState(0);

  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const signOut = useCallback(() => {
    sessionStorage.clear();
    secret?.fill(0);
    setSecret(undefined);
    setSession(undefined);
    setMe(undefined);
    setBalance(undefined);
  }, [secret]);

  const onFailure = useCallback((e: unknown) => {
    if (e instanceof ApiError && (e.code === "session_expired" || e.status === 401)) signOut();
    setError(explain(e));
  }, [signOut]);

  useEffect(() => {
    if (!session) return;
    call<Me>("GET", "/api/user/me", undefined, session.api_key).then(setMe).catch(onFailure);
  }, [session, onFailure]);

  useEffect(() => {
    if (!session) return;
    call<Balance>("GET", "/api/user/points/balance", undefined, session.api_key).then(setBalance).catch(onFailure);
  }, [session, balanceTick, onFailure]);

  const run = (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    work().catch((e) => setError(explain(e))).finally(() => setBusy(false));
  };

  const start = (opened: StoredSession) => {
    sessionStorage.setItem(SESSION, JSON.stringify(opened));
    setSession(opened);
  };

  const context = useMemo<AppContextValue | undefined>(() => {
    if (!session || !me) return undefined;
    return {
      me,
      apiKey: session.api_key,
      api: (method, path, body) => call(method, path, body, session.api_key),
      balance,
      refreshBalance: () => setBalanceTick((t) => t + 1),
      secret,
      walletKeyId: locked ? `0x${locked.keyId}` : undefined,
      unlock: async (passphrase) => {
        if (!locked) throw new Error("This browser has no wallet.");
        setSecret(await unlockKey(locked, passphrase));
      },
    };
  }, [session, me, balance, secret, locked]);

  if (!context && !session && route[0] === "pay") {
    return (
      <div className="shell">
        <nav className="topbar" aria-label="Main">
          <a className="brand" href="#/pay">Tollway</a>
          <span className="spacer" />
          <a href="#/chat">Sign in</a>
        </nav>
        <main className="content"><PayPage id={route[1]} /></main>
      </div>
    );
  }

  if (!context) {
    return (
      <main className="page narrow">
        <header>
          <h1>Tollway</h1>
          <p className="tagline">Pay for AI per token, from a wallet whose key never leaves this browser.</p>
        </header>
        {error && <p role="alert" className="error">{error}</p>}
        {session ? <p className="hint">Loading your account…</p> : locked ? (
          <UnlockForm locked={locked} busy={busy} onForget={() => { localStorage.removeItem(LOCKED_KEY); setLocked(undefined); }}
            onUnlock={(passphrase) => run(async () => {
              const key = await unlockKey(locked, passphrase);
              const opened = await walletLogin(key, window.location.origin);
              setSecret(key);
              start({ api_key: opened.api_key, expires_at: opened.expires_at });
            })} />
        ) : (
          <CreateForm busy={busy} onCreate={(secretText, passphrase) => run(async () => {
            const key = secretText ? importSecretKey(secretText) : newSecretKey();
            const saved = await lockKey(key, passphrase);
            key.fill(0);
            localStorage.setItem(LOCKED_KEY, JSON.stringify(saved));
            setLocked(saved);
          })} />
        )}
        {!session && <ApiKeyForm busy={busy} onSubmit={(key) => run(async () => {
          await call<Me>("GET", "/api/user/me", undefined, key);
          start({ api_key: key });
        })} />}
      </main>
    );
  }

  const [page, ...rest] = route;
  const pages = PAGES.filter((p) => !p.admin || context.me.is_admin);
  return (
    <AppContext.Provider value={context}>
      <div className="shell">
        <nav className="topbar" aria-label="Main">
          <a className="brand" href="#/chat">Tollway</a>
          {pages.map((p) => (
            <a key={p.path} href={`#/${p.path}`} aria-current={p.path === page ? "page" : undefined}>{p.title}</a>
          ))}
          <span className="spacer" />
          <span className="who" title={context.me.wallet ?? undefined}>
            <span data-testid="handle" title={context.me.handle}>{context.me.handle.length > 24 ? `${context.me.handle.slice(0, 10)}…${context.me.handle.slice(-6)}` : context.me.handle}</span> · <strong data-testid="balance">{points(balance?.balance)}</strong> points
          </span>
          <button className="quiet" onClick={signOut}>Sign out</button>
        </nav>
        {error && <p role="alert" className="error page-error">{error} <button className="quiet" onClick={() => setError(undefined)}>Dismiss</button></p>}
        <main className="content">
          {page === "channels" ? <ChannelsPage /> :
           page === "points" ? <PointsPage /> :
           page === "hub" ? <HubPage /> :
           page === "pay" ? <PayPage id={rest[0]} /> :
           page === "admin" && context.me.is_admin ? <AdminPage section={rest[0]} /> :
           <ChatPage />}
        </main>
      </div>
    </AppContext.Provider>
  );
}
