// tftpkit for the benchmark when the tftpkit command (apps/server) is not
// built: the @tftpkit/server API with its defaults, serving ROOT on
// 127.0.0.1:PORT until SIGTERM.
//   node bench/tftpkit-server.mjs ROOT PORT

import { createServer } from "@tftpkit/server";

const [root, port] = process.argv.slice(2);
const server = createServer({ root });
await server.listen({ host: "127.0.0.1", port: Number(port) });
const stop = () => void server.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
