#!/usr/bin/env node
import { run } from '../dist/commands/run-writer.js';

run();
