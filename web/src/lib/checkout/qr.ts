// The QR code's modules for a text, from `qrcode-generator` (byte mode,
// error correction level M, the smallest version that holds the text).
// The page draws them as SVG; the text is ASCII (an EIP-681 link), so its
// bytes are its characters.
import qrcode from "qrcode-generator";

/** The dark (true) and light modules of `text`'s QR code, row by row, without the quiet zone. */
export function qrModules(text: string): boolean[][] {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const size = qr.getModuleCount();
  return Array.from({ length: size }, (_, row) => Array.from({ length: size }, (_, col) => qr.isDark(row, col)));
}

/** An SVG path drawing the dark modules of `modules`, one unit a module, offset by `margin` units. */
export function qrPath(modules: boolean[][], margin: number): string {
  const parts: string[] = [];
  modules.forEach((line, row) => line.forEach((dark, col) => {
    if (dark) parts.push(`M${col + margin} ${row + margin}h1v1h-1z`);
  }));
  return parts.join("");
}
