#!/usr/bin/env node
/** The `packet-traits` executable: runs the command line and exits with its code (see main.ts). */
import { main } from "./main.js";

process.exitCode = main(process.argv.slice(2));
