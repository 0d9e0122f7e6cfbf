// What every page of the app shares: the signed-in user, a way to call the
// API as that user, the points balance, and the wallet key while it is
// unlocked (in memory only; never stored unlocked, never sent).
import { createContext, useContext } from "react";

/** `GET /api/user/me`. */
export interface Me {
  user_id: number;
  handle: string;
  is_admin: boolean;
  /** The wallet key id linked to the user, if one is. */
  wallet: string | null;
}

/** `GET /api/user/points/balance` (decimal strings). */
export interface Balance {
  balance: string;
  available: string;
  arrears: string;
}

/** The signed-in user's view of the app. */
export interface AppContextValue {
  me: Me;
  /** Calls the API with the session's key. */
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The session's API key (for streaming requests the page makes itself). */
  apiKey: string;
  balance?: Balance;
  /** Reads the balance again (after a payment, a channel opened or closed). */
  refreshBalance(): void;
  /** The wallet's secret key while unlocked in this tab, else undefined. */
  secret?: Uint8Array;
  /** The stored wallet's key id (`0x` hex), if this browser has one. */
  walletKeyId?: string;
  /** Unlocks the stored wallet with its passphrase (throws `wrong_passphrase`). */
  unlock(passphrase: string): Promise<void>;
}

export const AppContext = createContext<AppContextValue | undefined>(undefined);

/** The app's shared state; only inside the signed-in shell. */
export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp outside the signed-in app");
  return value;
}
