export { ConfigErrorCode, TftpConfigError, isBranded, type ConfigProblem } from "./errors.js";
export {
  option, int, num, bool, str, oneOf, listOf, fn, custom,
  applyRenames, warnDeprecated, checkOptions, closestKey, dataKeys, defaultsOf, resolveTable,
  type OptionSpec, type OptionTable, type Renames, type OptionsInput, type OptionsResolved, type ValidateOptions, type ValueOf,
} from "./schema.js";
