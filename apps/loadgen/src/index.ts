/**
 * `@tftpkit/loadgen`: run a load against a TFTP server from code, and read,
 * render, merge, compare and check the reports `tftpkit-load` writes.
 *
 * @packageDocumentation
 */

export { TftpConfigError } from "@tftpkit/options";
export { runLoad, type Progress, type RawRun, type RunOptions } from "./run.js";
export {
  buildReport, SATURATION_ELU,
  type CpuFigures, type Report, type ScenarioSummary, type TimelinePoint, type ThresholdResult,
} from "./report.js";
export { renderHtml, renderText } from "./render.js";
export {
  resolveScenario, renameScenarioKeys, RENAMED_SCENARIO_KEYS, loadScenarioFile, SCENARIO_DEFAULTS, AUTO_WORKERS,
  type Scenario, type ScenarioInput, type FileWeight,
} from "./scenario.js";
export type { Bucket, LatencySummary } from "./hist.js";
export type { Stage } from "./schedule.js";
export { parseThreshold, checkThresholds, type Threshold } from "./thresholds.js";
export { mergeReports, compareReports, renderCompareText, renderCompareHtml, type CompareRow } from "./merge.js";
export { VERSION } from "./version.js";
export { main } from "./cli.js";
