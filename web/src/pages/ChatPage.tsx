// The assistant chat, paid as the answer streams: from points (the balance
// falls as chunks arrive) or from a ledger channel, with auto-pay (each
// proposal reviewed and signed at once) or manual pay (the answer pauses
// at each window until the person approves the receipt). The payment
// panel beside it shows every receipt as it is signed and accepted.
import { secp256k1 } from "@noble/curves/secp256k1";
import { useEffect, useMemo, useRef, useState } from "react";
import { useApp, type Balance } from "../app/context";
import { explain } from "../app/explain";
import { CkbBook } from "../lib/ckb/record";
import { chatView, CkbChatPayer } from "../lib/ckb/chatPayer";
import { amountOf, unitAfter } from "../lib/format";
import { LedgerChannels, signedTotal } from "../lib/ledgerChannels";
import { defaultCap, LeftoverDue, payLeftover, streamChat, type ChannelPayer, type ChatEvent, type ChatMessage, type ChatResult } from "../lib/paidChat";
import type { PaymentDue } from "../lib/wire";
import { ChatComposer, type ComposerSettings } from "./chat/ChatComposer";
import { EMPTY_PANEL, PaymentPanel, type PanelState } from "./chat/PaymentPanel";
import { UnlockWallet } from "./chat/UnlockWallet";

const MODEL = "smollm2-135m-instruct";
const CONVERSATION = "tollway.conversation";

/** A pause waiting for the person's approval. */
interface Approval {
  due: PaymentDue;
  resolve: (approved: boolean) => void;
}

export function ChatPage() {
  const app = useApp();
  const ledger = useMemo(() => (app.walletKeyId ? new LedgerChannels(app.apiKey, app.walletKeyId) : undefined), [app.apiKey, app.walletKeyId]);
  const [tick, setTick] = useState(0);
  // Ledger channels and CKB channels (pinned prices in shannons) alike.
  const channels = useMemo(
    () => [...(ledger?.book.all().filter((c) => c.open) ?? []), ...(app.walletKeyId ? new CkbBook(app.walletKeyId).all().flatMap((r) => chatView(r) ?? []) : [])],
    [ledger, app.walletKeyId, tick],
  );
  const [settings, setSettings] = useState<ComposerSettings>({ model: MODEL, payFrom: "points", mode: "auto", cap: "", maxTokens: 128 });
  // The conversation survives moving between pages (for this tab only).
  const [messages, setMessages] = useState<ChatMessage[]>(() => JSON.parse(sessionStorage.getItem(CONVERSATION) ?? "[]") as ChatMessage[]);
  useEffect(() => sessionStorage.setItem(CONVERSATION, JSON.stringify(messages)), [messages]);
  const [answer, setAnswer] = useState<string>();
  const [panel, setPanel] = useState<PanelState>(EMPTY_PANEL);
  const [approval, setApproval] = useState<Approval>();
  const [unpaid, setUnpaid] = useState<ChatResult["unpaid"]>();
  /** A leftover the payee asks for before the next answer, with the message to send again once paid. */
  const [leftover, setLeftover] = useState<{ due: PaymentDue; text: string }>();
  const [live, setLive] = useState<Balance>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);

  const selected = settings.payFrom === "points" ? undefined : channels.find((c) => c.id === settings.payFrom);
  // A CKB channel's receipts carry a commitment the wallet key signs too.
  const payer: (ChannelPayer & { recover: LedgerChannels["recover"] }) | undefined =
    selected?.asset === "CKB" ? (app.secret && app.walletKeyId ? new CkbChatPayer(app.apiKey, app.walletKeyId, app.secret) : undefined) : ledger;
  // Read afresh at every render: receipts signed while the answer streams show at once.
  const record = selected && (payer?.current(selected.id) ?? selected);
  const fmt = (value: bigint | string | undefined) => amountOf(value, record?.asset);
  const unit = unitAfter(record?.asset);
  useEffect(() => {
    if (settings.payFrom !== "points" && !record) setSettings((s) => ({ ...s, payFrom: "points" }));
  }, [record, settings.payFrom]);

  const send = async (text: string) => {
    setLeftover(undefined);
    const history: ChatMessage[] = [...messages, { role: "user", content: text }];
    setMessages(history);
    setPanel(EMPTY_PANEL);
    setError(undefined);
    setUnpaid(undefined);
    setBusy(true);
    const controller = new AbortController();
    abort.current = controller;
    // The balance, read again while the answer streams: the hold grows chunk by chunk.
    const poll = window.setInterval(() => void app.api<Balance>("GET", "/api/user/points/balance").then(setLive).catch(() => undefined), 400);
    let received = "";
    const onEvent = (e: ChatEvent) => {
      if (e.kind === "text") {
        received += e.text;
        setAnswer(received);
        setPanel((p) => ({ ...p, chunks: p.chunks + 1 }));
      } else if (e.kind === "proposal") {
        setPanel((p) => ({ ...p, proposed: e.due.proposal.accumulated }));
      } else if (e.kind === "signed") {
        setPanel((p) => ({ ...p, receipts: [...p.receipts, { nonce: e.nonce.toString(), amount: e.amount, total: e.total }] }));
      } else if (e.kind === "accepted") {
        setPanel((p) => ({ ...p, receipts: p.receipts.map((r) => (BigInt(r.nonce) <= e.nonce && r.accepted === undefined ? { ...r, accepted: true } : r)) }));
      } else if (e.kind === "receipt_refused") {
        setPanel((p) => ({ ...p, receipts: p.receipts.map((r) => (r.nonce === e.nonce.toString() ? { ...r, accepted: e.code } : r)) }));
      } else {
        setPanel((p) => ({ ...p, promptTokens: e.prompt, completionTokens: e.completion }));
      }
    };
    try {
      let channel;
      if (record) {
        if (!payer || !app.secret) throw new Error("Unlock your wallet to pay from a channel.");
        const { record: current, pending } = await payer.recover(record, secp256k1.getPublicKey(app.secret, true));
        // Work an earlier answer delivered and nobody signed: the person decides first.
        if (pending) throw new LeftoverDue(pending);
        const maxAmount = settings.cap ? BigInt(settings.cap) : defaultCap(current, settings.model, history, settings.maxTokens);
        if (maxAmount <= 0n) throw new Error("The channel's budget is spent. Open a new channel or pay with points.");
        channel = {
          payer, record: current, secret: app.secret, mode: settings.mode, maxAmount,
          approve: (due: PaymentDue) => new Promise<boolean>((resolve) => setApproval({ due, resolve })),
        };
      }
      setAnswer("");
      const result = await streamChat({ model: settings.model, messages: history, maxTokens: settings.maxTokens, apiKey: app.apiKey, signal: controller.signal, onEvent, channel });
      setPanel((p) => ({ ...p, cost: result.cost, stopped: result.stopped, promptTokens: result.promptTokens, completionTokens: result.completionTokens }));
      setUnpaid(result.unpaid);
    } catch (e) {
      if (e instanceof LeftoverDue) {
        setLeftover({ due: e.due, text });
        setMessages(messages);
      } else if (!controller.signal.aborted) setError(explain(e));
    } finally {
      window.clearInterval(poll);
      setApproval(undefined);
      if (received) setMessages([...history, { role: "assistant", content: received }]);
      setAnswer(undefined);
      setBusy(false);
      setTick((t) => t + 1);
      app.refreshBalance();
      setLive(undefined);
    }
  };

  const settle = async () => {
    if (!unpaid) return;
    try {
      await unpaid.approve();
      setUnpaid(undefined);
    } catch (e) {
      setError(explain(e));
    }
    setTick((t) => t + 1);
  };

  const payAndResend = async () => {
    if (!leftover || !record || !payer || !app.secret) return;
    try {
      const current = payer.current(record.id) ?? record;
      await payLeftover(payer, current, leftover.due, app.secret, defaultCap(current, settings.model, messages, settings.maxTokens));
      const text = leftover.text;
      setLeftover(undefined);
      setTick((t) => t + 1);
      await send(text);
    } catch (e) {
      setError(explain(e));
    }
  };

  const available = (live ?? app.balance)?.available;
  const needsKey = settings.payFrom !== "points" && !app.secret;
  return (
    <div className="chat-layout">
      <section className="card chat" aria-label="Chat">
        <div className="row spread">
          <h2>Chat</h2>
          <button type="button" className="quiet" disabled={busy} onClick={() => { setMessages([]); setPanel(EMPTY_PANEL); setError(undefined); }}>New chat</button>
        </div>
        <div className="messages" data-testid="messages">
          {messages.length === 0 && answer === undefined && <p className="empty">Ask anything. The answer is paid as it streams, chunk by chunk.</p>}
          {messages.map((m, i) => (
            <div key={i} className={`bubble ${m.role}`}><span className="role">{m.role === "user" ? "You" : "Assistant"}</span>{m.content}</div>
          ))}
          {answer !== undefined && <div className="bubble assistant streaming" data-testid="answer"><span className="role">Assistant</span>{answer}<span className="cursor" aria-hidden>▍</span></div>}
        </div>
        {approval && (
          <div className="approval" role="group" aria-label="Approve payment">
            <p>The answer is paused until you pay for it: sign a receipt adding <strong data-testid="approval-amount">{fmt(approval.due.proposal.accumulated - (record ? signedTotal(payer?.current(record.id) ?? record) : 0n))}</strong>{unit} (a total of {fmt(approval.due.proposal.accumulated)} on this channel)?</p>
            <div className="row">
              <button onClick={() => { approval.resolve(true); setApproval(undefined); }}>Approve and continue</button>
              <button className="secondary" onClick={() => { approval.resolve(false); setApproval(undefined); abort.current?.abort(); }}>Stop here</button>
            </div>
          </div>
        )}
        {unpaid && !busy && (
          <div className="approval" role="group" aria-label="Pay the rest">
            <p>The last part of the answer is not paid yet: a receipt for a total of <strong>{fmt(unpaid.due.proposal.accumulated)}</strong>{unit}.</p>
            <button onClick={() => void settle()}>Pay the rest</button>
          </div>
        )}
        {leftover && !busy && record && (
          <div className="approval" role="group" aria-label="Unpaid earlier answer">
            <p>An earlier answer on this channel was delivered but not fully paid (the page was reloaded or the stream was cut): the server asks for a receipt adding <strong data-testid="leftover-amount">{fmt(leftover.due.proposal.accumulated - signedTotal(payer?.current(record.id) ?? record))}</strong>{unit} before the next answer.</p>
            <div className="row">
              <button onClick={() => void payAndResend()} disabled={!app.secret}>Pay it and send again</button>
              <a href="#/channels">or close the channel</a>
            </div>
          </div>
        )}
        {error && <p role="alert" className="error">{error}</p>}
        {needsKey && <UnlockWallet />}
        <ChatComposer settings={settings} onSettings={setSettings} channels={channels} busy={busy} canSign={!!app.secret} available={available}
          messages={messages} onSend={(text) => void send(text)} onStop={() => abort.current?.abort()} />
      </section>
      <PaymentPanel state={panel} channel={record} signedTotal={record ? signedTotal(record) : 0n} available={available} mode={settings.mode} />
    </div>
  );
}
