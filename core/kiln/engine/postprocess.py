"""Post-processor chains, with Packer's rules for which artifacts survive.

Each chain starts from the builder's artifact and feeds each post-processor's output
to the next. The builder's artifact is kept when there are no chains, or when the
first post-processor of any chain keeps its input; an intermediate artifact that its
successor does not keep is destroyed. A post-processor's ``keep_input_artifact``
overrides the component's choice unless the component forces it.
"""

from __future__ import annotations

from typing import Any

from kiln.engine.hook import decoded, raise_errors
from kiln.engine.prepare import PreparedBuild, configure
from kiln.hcl.model import PostProcessor, Template
from kiln.sdk.components import Artifact
from kiln.ui.terminal import BuildUi


def run_chains(
    template: Template,
    build: PreparedBuild,
    ui: BuildUi,
    artifact: Artifact,
    generated: dict[str, Any],
) -> list[Artifact]:
    """The artifacts the build ends with; raises the first post-processor failure."""
    results: list[Artifact] = []
    keep_original = not build.chains
    for chain in build.chains:
        prior = artifact
        for index, step in enumerate(chain):
            block = step.block
            assert isinstance(block, PostProcessor)
            label = f"{block.name} (type {block.type})" if block.name else block.type
            ui.say(f"Running post-processor: {label}")
            # what the builder and the earlier steps of the chain recorded (a digest...)
            known = {**generated, **prior.state.get("generated_data", {})}
            config = decoded(step, build, template, known)
            pp = step.spec.component(build.ctx)
            raise_errors(configure(pp, config))
            result, keep, force = pp.post_process(ui.prefixed(block.type), prior)  # type: ignore[attr-defined]
            if block.keep_input_artifact is not None:
                if keep and not block.keep_input_artifact and force:
                    ui.say(
                        f"The {block.type} post-processor keeps its input artifact to preserve "
                        "the build chain; keep_input_artifact = false is ignored."
                    )
                else:
                    keep = block.keep_input_artifact
            if index == 0:
                keep_original = keep_original or keep
            elif not keep:
                ui.say(
                    f"Deleting prior artifact from post-processor '{chain[index - 1].block.type}'"
                )
                prior.destroy()
            prior = result
        results.append(prior)
    if keep_original:
        results.insert(0, artifact)
    else:
        ui.say("Deleting original artifact for build")
        artifact.destroy()
    return results
