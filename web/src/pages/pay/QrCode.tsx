// The payment link as a QR code, drawn as SVG from its modules. It
// encodes exactly the text it is given (the checked `payment_uri`),
// which it also carries in `data-payload` for the browser test.
import { useMemo } from "react";
import { qrModules, qrPath } from "../../lib/checkout/qr";

const QUIET = 4;

/** The QR code of `payload`. */
export function QrCode(props: { payload: string }) {
  const modules = useMemo(() => qrModules(props.payload), [props.payload]);
  const size = modules.length + 2 * QUIET;
  return (
    <svg className="qr" role="img" aria-label="QR code of the payment link" data-testid="pay-qr" data-payload={props.payload}
      viewBox={`0 0 ${size} ${size}`} shapeRendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={qrPath(modules, QUIET)} fill="#111" />
    </svg>
  );
}
