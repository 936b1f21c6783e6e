#!/usr/bin/env node
import { run } from '../dist/commands/run-server.js';

run();
