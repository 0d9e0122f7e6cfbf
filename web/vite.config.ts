import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The app is served by the Tollway server at `/`; in development, Vite
// forwards the API to a server on 127.0.0.1:8080.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: { proxy: { "/api": "http://127.0.0.1:8080", "/v1": "http://127.0.0.1:8080" } },
});
