/**
 * `@tftpkit/dashboard`: the built admin dashboard (served by `tftpkit serve`
 * at / of its admin address) and the fleet server behind `tftpkit-dashboard`.
 *
 * @packageDocumentation
 */

export { DASHBOARD_CSP, DASHBOARD_HEADERS, dashboardAssetsDir, dashboardHandler, type DashboardHandler } from "./static.js";
export { startFleet, parseMember, type FleetMember, type FleetOptions, type FleetServer } from "./fleet.js";
export type * from "./wire.js";
