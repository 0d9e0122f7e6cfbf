// `#/pay/<id>`: the payment read from the server (a reload restores it),
// then live. It turns by itself into the success page when the status
// becomes `paid` (and reads the signed-in buyer's balance again), or into
// the expired or failed page.
import { useContext, useEffect, useRef } from "react";
import { AppContext } from "../../app/context";
import { failureText } from "../../lib/checkout/words";
import { Loading } from "../common/Status";
import { Closed, Success } from "./Outcome";
import { usePayment } from "./usePayment";
import { Waiting } from "./Waiting";

/** The pay page of payment `id`. */
export function PaymentPage(props: { id: string }) {
  const live = usePayment(props.id);
  const app = useContext(AppContext);
  const status = live.state?.view.status;
  // The context's function changes with every balance read: kept in a ref, so one payment reads it once.
  const refreshBalance = useRef<(() => void) | undefined>(undefined);
  refreshBalance.current = app?.refreshBalance;
  useEffect(() => { if (status === "paid") refreshBalance.current?.(); }, [status]);

  if (!live.state) {
    if (live.readError === undefined) return <Loading what="the payment" />;
    return (
      <section className="card outcome" aria-label="Payment">
        <p role="alert" className="error">{failureText(live.readError)}</p>
        <a className="button" href="#/pay">Start a new payment</a>
      </section>
    );
  }
  const { view } = live.state;
  if (view.status === "paid") return <Success view={view} />;
  if (view.status === "expired" || view.status === "failed") return <Closed view={view} />;
  return <Waiting state={live.state} live={live} />;
}
