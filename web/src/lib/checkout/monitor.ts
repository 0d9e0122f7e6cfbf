// The payments monitor's data (seed 003 §11.2, §14): WebSocket connection
// statistics for the pages (frontend) and for the chain (blockchain), and
// the message log of both, filtered and newest first.

/** `GET /api/v1/stats/websocket`'s `frontend`: the pages watching payments. */
export interface FrontendStats {
  totalConnections: number;
  activeConnections: number;
  connectionErrors: number;
  reconnectAttempts: number;
  lastConnectionTime: string | null;
  lastDisconnectionTime: string | null;
}

/** `GET /api/v1/stats/websocket`'s `blockchain`: the server's link to the chain. */
export interface BlockchainStats {
  isConnected: boolean;
  currentEndpoint: string | null;
  totalConnectionAttempts: number;
  reconnectAttempts: number;
  activeSubscriptions: number;
  lastConnectionTime: string | null;
  lastDisconnectionTime: string | null;
}

/** `GET /api/v1/stats/websocket`. */
export interface SocketStats {
  frontend: FrontendStats;
  blockchain: BlockchainStats;
}

/** Which side a logged message was on. */
export type MessageSource = "frontend" | "blockchain";

/** One logged message: `in` was received by the server, `out` sent by it. */
export interface LoggedMessage {
  source: MessageSource;
  type: string;
  paymentId?: string | null;
  direction: "in" | "out";
  data: unknown;
  timestamp: string;
}

/** `GET /api/v1/stats/websocket/messages?limit=N`. */
export interface MessageLog {
  messages: LoggedMessage[];
  count: number;
}

/** What the log is narrowed to: a type ("" for all) and a direction. */
export interface MessageFilter {
  type: string;
  direction: "" | "in" | "out";
}

/** `source`'s messages that pass `filter`, newest first (equal times keep the server's order). */
export function messagesOf(messages: LoggedMessage[], source: MessageSource, filter: MessageFilter): LoggedMessage[] {
  return messages
    .map((m, i) => ({ m, i, at: Date.parse(m.timestamp) }))
    .filter(({ m }) => m.source === source && (!filter.type || m.type === filter.type) && (!filter.direction || m.direction === filter.direction))
    .sort((a, b) => (b.at - a.at) || (a.i - b.i))
    .map(({ m }) => m);
}

/** The message types `source` has in the log, sorted, for the type filter. */
export function typesOf(messages: LoggedMessage[], source: MessageSource): string[] {
  return [...new Set(messages.filter((m) => m.source === source).map((m) => m.type))].sort();
}

/** A message's data as indented JSON. */
export function prettyJson(data: unknown): string {
  return JSON.stringify(data, null, 2) ?? "null";
}
