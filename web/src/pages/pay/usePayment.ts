// One payment, live: read over HTTP first (so a reload restores the page),
// then watched over `WebSocket /ws/payments/{id}` until its status is
// final. When the socket drops, the page says so, re-reads the payment
// over HTTP and opens the socket again after a growing, jittered wait; a
// socket silent for longer than the server's ping interval is taken as
// dead. The `connection_ack` of every new socket is the whole current
// view.
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { call } from "../../lib/api";
import { retryDelay, SILENCE_MS } from "../../lib/checkout/backoff";
import { isFinal, parseMessage, reduce, type CheckoutState } from "../../lib/checkout/state";
import type { PaymentView } from "../../lib/checkout/types";

/** The live payment, the last failed HTTP read, and what the page can do. */
export interface LivePayment {
  state?: CheckoutState;
  /** The last HTTP read's failure (cleared by the next success). */
  readError?: unknown;
  /** Opens the socket again now, instead of waiting for the next try. */
  reconnect(): void;
  /** Asks the server to look at a transaction now (`POST …/process`); throws its refusal. */
  submitHash(hash: string): Promise<PaymentView>;
}

function socketUrl(id: string): string {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/ws/payments/${encodeURIComponent(id)}`;
}

/** Watches payment `id`. */
export function usePayment(id: string): LivePayment {
  const [state, dispatch] = useReducer(reduce, undefined);
  const [readError, setReadError] = useState<unknown>();
  const [kick, setKick] = useState(0);
  const seq = useRef(0);
  seq.current = state?.seq ?? 0;
  const path = `/api/v1/payments/${encodeURIComponent(id)}`;

  const read = useCallback(async () => {
    const asked = seq.current;
    try {
      const view = await call<PaymentView>("GET", path);
      dispatch({ kind: "view", view, seq: asked });
      setReadError(undefined);
    } catch (e) {
      setReadError(e);
    }
  }, [path]);

  useEffect(() => { void read(); }, [read]);

  const loaded = state !== undefined;
  const final = state !== undefined && isFinal(state.view.status);
  const viaSocket = (state?.seq ?? 0) > 0;

  // The final status came over the socket: read the full view once (the update names only part of the transfer).
  useEffect(() => { if (final && viaSocket) void read(); }, [final, viaSocket, read]);

  useEffect(() => {
    if (!loaded || final) return;
    let stopped = false;
    let attempt = 0;
    let socket: WebSocket | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const open = () => {
      dispatch({ kind: "socket", socket: { phase: "connecting", attempt } });
      const ws = new WebSocket(socketUrl(id));
      socket = ws;
      const heard = () => {
        clearTimeout(silence);
        silence = setTimeout(() => ws.close(), SILENCE_MS);
      };
      heard();
      ws.onmessage = (event) => {
        heard();
        const message = parseMessage(String(event.data), id);
        if (!message) return;
        if (message.type === "connection_ack") attempt = 0;
        dispatch({ kind: "message", message });
      };
      ws.onclose = () => {
        clearTimeout(silence);
        if (stopped) return;
        const wait = retryDelay(attempt);
        attempt += 1;
        dispatch({ kind: "socket", socket: { phase: "retrying", attempt, retryAt: Date.now() + wait } });
        retry = setTimeout(() => {
          void read();
          open();
        }, wait);
      };
    };
    open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      clearTimeout(silence);
      socket?.close();
    };
  }, [id, loaded, final, kick, read]);

  const submitHash = useCallback(async (hash: string) => {
    const asked = seq.current;
    const view = await call<PaymentView>("POST", `${path}/process`, { transaction_hash: hash });
    dispatch({ kind: "view", view, seq: asked });
    return view;
  }, [path]);

  return { state, readError, reconnect: useCallback(() => setKick((k) => k + 1), []), submitHash };
}
