export { TftpConfigError } from "@tftpkit/options";
export { runLoad, type Progress, type RawRun, type RunOptions } from "./run.js";
export {
  buildReport, reportOf, renderHtml, renderText, lineChart, barChart, niceStep, SATURATION_ELU,
  type Report, type TimelinePoint, type ThresholdResult,
} from "./report.js";
export {
  resolveScenario, renameScenarioKeys, RENAMED_SCENARIO_KEYS, loadScenarioFile, parseTarget, parseFileWeight, parseChecksums, pickFile, SCENARIO_DEFAULTS, AUTO_WORKERS,
  type Scenario, type ScenarioInput, type FileWeight,
} from "./scenario.js";
export { newHist, recordMs, summarize, encodeHist, decodeHist, addHist, histogramBuckets, PERCENTILES, type Bucket, type LatencySummary, type Histogram } from "./hist.js";
export { RatePlan, Arrivals, parseStages, parseDurationS, type Stage } from "./schedule.js";
export { parseAddressPool, type AddressPool } from "./address-pool.js";
export { parseThreshold, checkThresholds, type Threshold } from "./thresholds.js";
export { mergeReports, compareReports, renderCompareText, renderCompareHtml, type CompareRow } from "./merge.js";
export { mergeParts, encodePart, emptyPart, type Part, type Totals } from "./part.js";
export { LATE_MS, type SessionRecord, type EngineResult } from "./engine.js";
export { VERSION } from "./version.js";
export { main } from "./cli.js";
