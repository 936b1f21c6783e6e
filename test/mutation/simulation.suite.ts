// The simulation, thinned by SIM_SCALE and SIM_SEEDS in `npm run mutate`: every workload, a few seeds each.
import '../sim/sim.test.js';
import '../sim/sim-workloads.test.js';
import '../sim/sim-faults.test.js';
