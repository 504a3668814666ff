import type { LogView, RunView, Step } from '../api/types';
import type { StepState } from '../editor/graph';
import { allSteps } from '../editor/model';

/** Each step's state in a run, from its log rows and the run's position. */
export function stepStates(run: RunView, steps: Step[]): Map<string, StepState> {
  const states = new Map<string, StepState>();
  for (const s of allSteps(steps)) states.set(s.id, 'not-reached');
  for (const log of run.logs ?? []) states.set(log.step, fromAction(log));
  const cur = run.currentStep;
  if (cur) {
    if (run.status === 'RUNNING' || run.status === 'PENDING') {
      if (states.get(cur) !== 'retrying') states.set(cur, 'running');
    } else if (run.status === 'WAITING') {
      states.set(cur, states.get(cur) === 'retrying' ? 'retrying' : 'waiting');
    }
  }
  return states;
}

function fromAction(log: LogView): StepState {
  switch (log.action) {
    case 'retrying':
      return 'retrying';
    case 'failed':
    case 'cancelled':
      return 'failed';
    case 'caught':
      return 'caught';
    case 'slept':
      return 'completed';
    default:
      return 'completed';
  }
}

export function outcomeLabel(action: string): string {
  switch (action) {
    case 'completed':
      return 'completed';
    case 'branched':
      return 'completed (branched)';
    case 'slept':
      return 'went to sleep';
    case 'retrying':
      return 'failed, will retry';
    case 'failed':
      return 'failed';
    case 'caught':
      return 'failed, caught by onError';
    case 'cancelled':
      return 'cancelled';
    case 'retried':
      return 'retried by hand';
    default:
      return action;
  }
}
