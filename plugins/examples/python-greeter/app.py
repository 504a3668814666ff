"""py-greeter: an example Weft step plugin written in Python.

Built to a WebAssembly component with componentize-py against the world
`weft:plugin/step-plugin@0.1.0` (see ../../../wit). The bindings package
`wit_world` is generated at build time; `componentize-py ... bindings DIR`
writes it out for reading.
"""

import json

from wit_world import exports
from wit_world.imports import log
from wit_world.imports.types import (
    Outcome,
    Outcome_Done,
    PluginInfo,
    StepError,
    StepInput,
)
from componentize_py_types import Err

# JSON Schema of the step's config; the host validates workflows against it.
CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Who to greet."},
    },
    "required": ["name"],
    "additionalProperties": False,
}


class Step(exports.Step):
    """The exported `step` interface."""

    def describe(self) -> PluginInfo:
        # Called once at load: must not call host interfaces.
        return PluginInfo(
            name="py-greeter",
            version="0.1.0",
            description="Greets someone by name (example plugin written in Python)",
            config_schema=json.dumps(CONFIG_SCHEMA),
            capabilities=[],  # `log` is always granted
        )

    def run(self, input: StepInput) -> Outcome:
        # A `result<outcome, step-error>`: return the outcome, raise Err(...) to fail.
        try:
            config = json.loads(input.config)
        except ValueError as e:
            raise Err(StepError(message=f"config is not JSON: {e}", retryable=False))
        name = config.get("name") if isinstance(config, dict) else None
        if not isinstance(name, str) or not name:
            raise Err(StepError(message="config.name must be a non-empty string", retryable=False))

        greeting = f"Hello, {name}!"
        log.log(log.Level.INFO, f"greeting {name} (run {input.run_id}, attempt {input.attempt})")
        output = {"greeting": greeting, "language": "python", "length": len(greeting)}
        return Outcome_Done(json.dumps(output))
