// One side's WebSocket messages from the server's log, newest first,
// narrowed by type and direction, each with its data as formatted JSON.
import { useState } from "react";
import { messagesOf, prettyJson, typesOf, type LoggedMessage, type MessageFilter, type MessageSource } from "../../../lib/checkout/monitor";
import { when } from "../../../lib/format";

/** The message log of `source`. */
export function MessageLogCard(props: { source: MessageSource; title: string; messages: LoggedMessage[] }) {
  const [filter, setFilter] = useState<MessageFilter>({ type: "", direction: "" });
  const types = typesOf(props.messages, props.source);
  const shown = messagesOf(props.messages, props.source, filter);
  const total = props.messages.filter((m) => m.source === props.source).length;
  return (
    <section className="card" aria-label={props.title}>
      <div className="row spread">
        <h2>{props.title}</h2>
        <div className="row">
          <label className="inline">Type
            <select value={filter.type} onChange={(e) => setFilter({ ...filter, type: e.target.value })}>
              <option value="">all</option>
              {[...new Set([...types, filter.type].filter(Boolean))].map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </label>
          <label className="inline">Direction
            <select value={filter.direction} onChange={(e) => setFilter({ ...filter, direction: e.target.value as MessageFilter["direction"] })}>
              <option value="">both</option><option value="in">in (to the server)</option><option value="out">out (from the server)</option>
            </select>
          </label>
        </div>
      </div>
      <p className="hint">{shown.length} of {total} logged message{total === 1 ? "" : "s"}, newest first.</p>
      {shown.length === 0 ? <p className="empty">{total === 0 ? "No message logged on this side yet." : "No message matches the filter."}</p> : (
        <ol className="log" data-testid={`log-${props.source}`}>
          {shown.map((m, i) => (
            <li key={`${m.timestamp}-${i}`} data-type={m.type} data-payment={m.paymentId ?? ""}>
              <div className="log-head">
                <span className={`dir ${m.direction}`} title={m.direction === "in" ? "received by the server" : "sent by the server"}>{m.direction === "in" ? "← in" : "→ out"}</span>
                <strong>{m.type}</strong>
                {m.paymentId && <code>{m.paymentId}</code>}
                <time dateTime={m.timestamp}>{when(Date.parse(m.timestamp))}</time>
              </div>
              <pre>{prettyJson(m.data)}</pre>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
