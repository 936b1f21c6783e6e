#!/usr/bin/env node
import { run } from '../dist/commands/run-chat.js';

run();
