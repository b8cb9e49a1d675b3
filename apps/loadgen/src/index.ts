export { runLoad, type Progress, type RawRun, type RunOptions, type TimelinePoint } from "./run.js";
export { buildReport, renderHtml, renderText, throughputSvg, histogramSvg, SATURATION_ELU, type Report } from "./report.js";
export {
  resolveScenario, loadScenarioFile, parseTarget, parseFileWeight, parseChecksums, pickFile, ScenarioError, DEFAULTS,
  type Scenario, type ScenarioInput, type FileWeight,
} from "./scenario.js";
export { percentile, summarize, histogram, type Bucket, type LatencySummary } from "./stats.js";
export type { SessionRecord, EngineTotals } from "./engine.js";
export { main } from "./cli.js";
