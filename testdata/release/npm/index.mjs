// ESM entry: the same functions as index.cjs.
import m from "./index.cjs";
export const { startTaskbolt, binaryPath, signToken } = m;
export default m;
