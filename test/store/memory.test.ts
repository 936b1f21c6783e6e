import { MemoryStore } from '../../src/store/memory-store.js';
import { storeContract } from './contract.js';

storeContract('memory', (retention) => Promise.resolve(new MemoryStore(retention)));
