import { ATTEMPT_COMMANDS } from "./attempt-commands";
import { DECIDE } from "./decide";
import { ENDING_COMMANDS } from "./ending-commands";

/** Every script that writes runs, for the tests that check them all (test/unit/lua-command.test.ts). */
export const RUN_COMMANDS = [DECIDE, ...ATTEMPT_COMMANDS, ...ENDING_COMMANDS];
