// The two sides of the payments' WebSockets, each with a status light:
// the pages watching payments (frontend) and the server's link to the
// chain (blockchain), with their counters and last connect and disconnect.
import type { BlockchainStats, FrontendStats } from "../../../lib/checkout/monitor";
import { when } from "../../../lib/format";

const time = (at: string | null) => (at ? when(Date.parse(at)) : "never");

/** The frontend and blockchain connection statistics. */
export function ConnectionCards(props: { frontend: FrontendStats; blockchain: BlockchainStats }) {
  const { frontend: f, blockchain: b } = props;
  const watching = f.activeConnections > 0;
  return (
    <div className="monitor-cards">
      <div className="monitor-card" data-testid="stats-frontend">
        <h3><span className={`light ${watching ? "green" : "grey"}`} aria-hidden="true" />Pages (frontend)</h3>
        <p className="light-text">{watching ? `${f.activeConnections} page${f.activeConnections === 1 ? "" : "s"} watching a payment now` : "No page is watching a payment now"}</p>
        <dl className="facts">
          <dt>Active connections</dt><dd data-testid="frontend-active">{f.activeConnections}</dd>
          <dt>Connections since start</dt><dd>{f.totalConnections}</dd>
          <dt>Connection errors</dt><dd className={f.connectionErrors ? "bad" : undefined}>{f.connectionErrors}</dd>
          <dt>Reconnects</dt><dd>{f.reconnectAttempts}</dd>
          <dt>Last connected</dt><dd>{time(f.lastConnectionTime)}</dd>
          <dt>Last disconnected</dt><dd>{time(f.lastDisconnectionTime)}</dd>
        </dl>
      </div>
      <div className="monitor-card" data-testid="stats-blockchain">
        <h3><span className={`light ${b.isConnected ? "green" : "red"}`} aria-hidden="true" />Chain (blockchain)</h3>
        <p className="light-text">{b.isConnected ? "Connected to the chain" : "Not connected to the chain: transfers are not being seen"}</p>
        <dl className="facts">
          <dt>Endpoint</dt><dd><code>{b.currentEndpoint ?? "—"}</code></dd>
          <dt>Subscriptions</dt><dd>{b.activeSubscriptions}</dd>
          <dt>Connection attempts</dt><dd>{b.totalConnectionAttempts}</dd>
          <dt>Reconnects</dt><dd>{b.reconnectAttempts}</dd>
          <dt>Last connected</dt><dd>{time(b.lastConnectionTime)}</dd>
          <dt>Last disconnected</dt><dd>{time(b.lastDisconnectionTime)}</dd>
        </dl>
      </div>
    </div>
  );
}
