#!/usr/bin/env node
import { run } from '../dist/cli/run-writer.js';

run();
