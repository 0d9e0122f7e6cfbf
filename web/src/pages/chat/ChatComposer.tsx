// The message box and how it is paid: model, points or a channel, auto or
// manual pay, the message's cap, max tokens; and before sending, seed
// 004's balance guard: what the message may cost and whether it can
// proceed (points: `GET /api/user/points/estimate` against the available
// balance; a channel: the cap against the budget left).
import { useEffect, useState } from "react";
import { useApp } from "../../app/context";
import type { ChannelRecord } from "../../lib/channels";
import { amountOf, points, short, unitAfter } from "../../lib/format";
import { defaultCap, type ChatMessage } from "../../lib/paidChat";

/** How the next message is sent and paid. */
export interface ComposerSettings {
  model: string;
  /** `points` or a channel id. */
  payFrom: string;
  mode: "auto" | "manual";
  /** The per-message cap typed by the person (empty: the default). */
  cap: string;
  maxTokens: number;
}

interface Estimate {
  estimated_cost: string;
}

/** Tokens a prompt of `bytes` UTF-8 bytes may take, roughly (for the guard's estimate only). */
const roughTokens = (bytes: number) => Math.ceil(bytes / 3) + 16;

export function ChatComposer(props: {
  settings: ComposerSettings;
  onSettings: (s: ComposerSettings) => void;
  channels: ChannelRecord[];
  busy: boolean;
  canSign: boolean;
  available?: string;
  messages: ChatMessage[];
  onSend: (text: string) => void;
  onStop: () => void;
}) {
  const app = useApp();
  const { settings } = props;
  const [draft, setDraft] = useState("");
  const [estimate, setEstimate] = useState<{ cost?: bigint; error?: string }>({});
  const set = (change: Partial<ComposerSettings>) => props.onSettings({ ...settings, ...change });
  const channel = props.channels.find((c) => c.id === settings.payFrom);
  const history: ChatMessage[] = [...props.messages, { role: "user", content: draft }];
  const promptBytes = new TextEncoder().encode(JSON.stringify(history)).length;

  useEffect(() => {
    if (channel) return;
    const handle = window.setTimeout(() => {
      const query = new URLSearchParams({ model: settings.model, input_tokens: String(roughTokens(promptBytes)), output_tokens: String(settings.maxTokens) });
      app.api<Estimate>("GET", `/api/user/points/estimate?${query}`)
        .then((e) => setEstimate({ cost: BigInt(e.estimated_cost) }))
        .catch((e) => setEstimate({ error: e instanceof Error ? e.message : String(e) }));
    }, 250);
    return () => window.clearTimeout(handle);
  }, [app, channel, settings.model, settings.maxTokens, promptBytes]);

  let guard: { text: string; ok: boolean };
  if (channel) {
    let cap: bigint | undefined;
    try {
      cap = settings.cap ? BigInt(settings.cap) : defaultCap(channel, settings.model, history, settings.maxTokens);
    } catch {
      cap = undefined;
    }
    guard = cap === undefined ? { text: "The cap must be a whole number of points.", ok: false }
      : cap > 0n ? { text: `At most ${amountOf(cap, channel.asset)}${unitAfter(channel.asset)} from the channel for this message; each receipt is checked against what arrived.`, ok: true }
      : { text: "The channel's budget is spent: open a new channel on the Channels page, or pay with points.", ok: false };
  } else if (estimate.error) {
    guard = { text: estimate.error, ok: false };
  } else if (estimate.cost === undefined || props.available === undefined) {
    guard = { text: "Estimating…", ok: true };
  } else {
    const ok = BigInt(props.available) >= estimate.cost;
    guard = { text: `About ${points(estimate.cost)} points at most (up to ${settings.maxTokens} tokens of answer): ${ok ? "can proceed" : `you have ${points(props.available)} available — not enough. Ask an admin for points, or pay from a channel`}.`, ok };
  }
  const blocked = !guard.ok || (!!channel && !props.canSign);

  return (
    <form className="composer" aria-label="Message" onSubmit={(e) => { e.preventDefault(); if (draft.trim() && !blocked) { props.onSend(draft.trim()); setDraft(""); } }}>
      <div className="row">
        <label>Pay from
          <select value={settings.payFrom} onChange={(e) => set({ payFrom: e.target.value })} disabled={props.busy}>
            <option value="points">Points</option>
            {props.channels.map((c) => <option key={c.id} value={c.id}>{c.asset === "CKB" ? "CKB channel" : "Channel"} {short(c.id)} ({amountOf(c.deposit, c.asset)}{unitAfter(c.asset)} deposit)</option>)}
          </select>
        </label>
        {channel && (
          <label>Payment mode
            <select value={settings.mode} onChange={(e) => set({ mode: e.target.value as "auto" | "manual" })} disabled={props.busy}>
              <option value="auto">Auto-pay each chunk</option>
              <option value="manual">Manual: approve each pause</option>
            </select>
          </label>
        )}
        {channel && (
          <label>Cap per message
            <input inputMode="numeric" value={settings.cap} placeholder="from max tokens" onChange={(e) => set({ cap: e.target.value.replace(/[^0-9]/g, "") })} disabled={props.busy} />
          </label>
        )}
        <label>Max tokens
          <input type="number" min={1} max={4096} value={settings.maxTokens} onChange={(e) => set({ maxTokens: Math.max(1, Math.min(4096, Number(e.target.value) || 1)) })} disabled={props.busy} />
        </label>
      </div>
      <label>Your message
        <textarea rows={3} value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="Ask the assistant…"
          onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); e.currentTarget.form?.requestSubmit(); } }} />
      </label>
      <p className={guard.ok ? "hint" : "hint bad"} data-testid="guard">{guard.text}</p>
      <div className="row">
        {props.busy ? <button type="button" className="secondary" onClick={props.onStop}>Stop</button>
          : <button type="submit" disabled={!draft.trim() || blocked}>Send</button>}
      </div>
    </form>
  );
}
