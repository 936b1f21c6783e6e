#!/usr/bin/env node
import { run } from '../dist/commands/run-reader.js';

run();
