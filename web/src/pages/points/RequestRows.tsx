// A table of gateway requests, shared by the points page and the admin
// monitor (which adds the user column).
import { points, when } from "../../lib/format";
import type { RequestRecord } from "../common/types";

export function RequestRows(props: { rows: RequestRecord[]; showUser?: boolean; handles?: Map<number, string> }) {
  return (
    <div className="table-wrap">
      <table data-testid="requests">
        <thead>
          <tr>
            <th>When</th>{props.showUser && <th>User</th>}<th className="wide-only">Model</th><th className="num">In</th><th className="num">Out</th>
            <th className="num">Cost</th><th className="wide-only">Ended</th><th className="num wide-only">Time</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={r.seq}>
              <td>{when(r.created_at)}</td>
              {props.showUser && <td>{props.handles?.get(r.user_id) ?? `#${r.user_id}`}</td>}
              <td className="wide-only">{r.model}{r.stream ? " (stream)" : ""}</td>
              <td className="num">{r.input_tokens}</td>
              <td className="num">{r.output_tokens}</td>
              <td className="num">{points(String(r.cost))}</td>
              <td className={r.status === "stop" || r.status === "length" ? "wide-only" : "wide-only bad"}>{r.status}</td>
              <td className="num wide-only">{r.duration_ms === null ? "—" : `${r.duration_ms} ms`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
