#!/usr/bin/env node
import { run } from '../dist/cli/run-reader.js';

run();
