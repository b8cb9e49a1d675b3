// Pools of client source addresses.

import { describe, expect, it } from "vitest";
import { parseAddressPool } from "../src/address-pool.js";

describe("source pools", () => {
  it("IPv4: the hosts of the prefix, network and broadcast left out", () => {
    const p = parseAddressPool("127.0.3.0/24");
    expect(p).toMatchObject({ cidr: "127.0.3.0/24", family: 4, size: 254 });
    expect([0, 1, 253, 254].map(p.at)).toEqual(["127.0.3.1", "127.0.3.2", "127.0.3.254", "127.0.3.1"]);
    expect(parseAddressPool("127.0.0.5").size).toBe(1);
    expect(parseAddressPool("127.0.0.5").at(3)).toBe("127.0.0.5");
    expect(parseAddressPool("10.0.0.0/31").size).toBe(2);
  });

  it("IPv6", () => {
    const p = parseAddressPool("fd00::/126");
    expect(p.size).toBe(3);
    expect(p.at(0)).toBe("fd00:0:0:0:0:0:0:1");
    expect(parseAddressPool("::1").at(0)).toBe("0:0:0:0:0:0:0:1");
  });
});
