#!/usr/bin/env node
import { run } from '../dist/cli/run-server.js';

run();
