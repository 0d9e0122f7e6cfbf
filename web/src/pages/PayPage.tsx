// The stablecoin checkout (issue 15), open to anyone: `#/pay` chooses what
// to buy and how to pay, `#/pay/<id>` is one payment.
import { CheckoutForm } from "./pay/CheckoutForm";
import { PaymentPage } from "./pay/PaymentPage";

/** The checkout, or payment `id`'s page. */
export function PayPage(props: { id?: string }) {
  return props.id ? <PaymentPage key={props.id} id={props.id} /> : <CheckoutForm />;
}
