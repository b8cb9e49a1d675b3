// The raw TFTP read client of the tests lives in @tftpkit/test-support.

export { tftpGet, type TftpGetOptions as GetOptions, type TftpGetResult as GetResult } from "@tftpkit/test-support";
