#!/usr/bin/env node
import { run } from '../dist/cli/run-chat.js';

run();
