// Usage reported by apps (Dify's message_end), newest first: who, which
// model, tokens, what was charged and how it ended.
import { points, when } from "../../lib/format";

export interface UsageEvent {
  seq: number;
  app_id: number;
  message_id: string;
  user_id: number | null;
  user_ref: string | null;
  model: string;
  input_tokens: number;
  output_tokens: number;
  status: string;
  charged: string;
  shortfall: string;
  created_at: number;
}

export function UsageEvents(props: { events: UsageEvent[]; name: (id: number) => string }) {
  if (props.events.length === 0) return <p className="empty">No usage reported by apps yet (Dify's message_end webhook).</p>;
  return (
    <div className="table-wrap">
      <table data-testid="usage-events">
        <thead><tr><th>When</th><th>User</th><th className="wide-only">Model</th><th className="num wide-only">In</th><th className="num wide-only">Out</th><th className="num">Charged</th><th>Status</th></tr></thead>
        <tbody>
          {props.events.map((e) => (
            <tr key={e.seq}>
              <td>{when(e.created_at)}</td>
              <td>{e.user_id === null ? <span className="muted">{e.user_ref ?? "unknown"}</span> : props.name(e.user_id)}</td>
              <td className="wide-only">{e.model}</td>
              <td className="num wide-only">{e.input_tokens}</td>
              <td className="num wide-only">{e.output_tokens}</td>
              <td className="num">{points(String(e.charged))}{e.shortfall !== "0" && <span className="bad"> (+{points(String(e.shortfall))} owed)</span>}</td>
              <td className={e.status === "charged" ? undefined : "bad"}>{e.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
