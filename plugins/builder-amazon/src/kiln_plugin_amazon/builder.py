"""The ``amazon-ebs`` builder: an AMI from an instance it launches, provisions and
images. botocore is imported only when a build runs."""

from __future__ import annotations

from kiln.sdk import (
    Artifact,
    Builder,
    Config,
    Hook,
    StateBag,
    Step,
    StepCleanupTempKeys,
    StepConnect,
    StepProvision,
    Ui,
    interpolate,
    render_functions,
    run_steps,
)
from kiln_plugin_amazon.config import EbsConfig


class EbsBuilder(Builder):
    """Builds an EBS-backed AMI: launches an instance, provisions it, stops it and images it.

    The steps are Packer's, each undone on every path (success, failure, Ctrl-C):
    pre-validation (credentials, regions, a free AMI name), the source AMI, the network,
    a temporary key pair and security group, the instance (its id recorded before any
    waiting, so an interrupt still terminates it), the connection, the provisioners,
    stopping the instance, the AMI (removed again if the build fails after it), copies
    to `ami_regions` in parallel (encrypted ones through an intermediary image, which is
    removed), deprecation, sharing and tags.

    Every temporary resource (key pair, security group, instance, volumes, launch
    template, intermediary AMI and snapshots) is tagged `kiln_run_uuid` (the run's id)
    and `kiln_build` (the build's name), so leftovers of a killed run can be found; the
    final AMIs lose those tags at the end. Waits back off and can be interrupted; when
    one gives up, the error says what was not ready and for how long kiln waited.
    Credentials never appear in output or logs.
    """

    config_class = EbsConfig
    config: EbsConfig
    #: the build data tags, ami_description... may name as {{.Name}} (the steps fill it)
    generated = (
        "SourceAMI",
        "SourceAMIName",
        "SourceAMIOwner",
        "SourceAMIOwnerName",
        "SourceAMICreationDate",
        "BuildRegion",
    )

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, EbsConfig)
        # Packer renders its template functions in these, HCL2 templates included
        config.ami_name = render_functions(config.ami_name, option="ami_name")
        config.ami_description = render_functions(config.ami_description, option="ami_description")
        for name in ("tags", "snapshot_tags", "run_tags", "run_volume_tags"):
            values = getattr(config, name)
            setattr(config, name, {k: render_functions(v, option=name) for k, v in values.items()})
        config.check(self.ctx.force)
        placeholders = dict.fromkeys(self.generated, "")
        for name in ("tags", "snapshot_tags"):
            for value in getattr(config, name).values():
                interpolate(value, placeholders, option=name)
        interpolate(config.ami_description, placeholders, option="ami_description")
        warnings = []
        temporary_group = not (config.security_groups or config.security_group_filter)
        if (
            config.communicator == "ssh"
            and temporary_group
            and not config.temporary_security_group_source_cidrs
        ):
            warnings.append(
                "The temporary security group lets anyone (0.0.0.0/0) reach the SSH "
                "port while the build runs; set temporary_security_group_source_cidrs "
                "to narrow it."
            )
        return warnings

    def run(self, ui: Ui, hook: Hook) -> Artifact | None:
        # botocore and the steps: imported when a build runs, never for validate
        from kiln_plugin_amazon import steps as s
        from kiln_plugin_amazon.access import AWS
        from kiln_plugin_amazon.artifact import AmiArtifact

        config, ctx = self.config, self.ctx
        aws = AWS(config, ctx)
        state = StateBag(ui=ui, hook=hook, generated_data={})
        run_instance = s.StepRunSpotInstance if config.spot_price else s.StepRunSourceInstance
        plan: list[Step] = [
            s.StepPreValidate(config, aws, ctx),
            s.StepSourceAMIInfo(config, aws, ctx),
            s.StepNetworkInfo(config, aws, ctx),
            s.StepKeyPair(config, aws, ctx),
            s.StepSecurityGroup(config, aws, ctx),
            s.StepCleanupVolumes(config, aws, ctx),
            run_instance(config, aws, ctx),
            StepConnect(config, lambda st: s.instance_address(config, st), ctx=ctx),
            StepProvision(),
            StepCleanupTempKeys(config, ctx=ctx),
        ]
        if not config.spot_price:
            plan.append(s.StepStopInstance(config, aws, ctx))
        plan += [
            s.StepModifyInstance(config, aws, ctx),
            s.StepDeregisterAMI(config, aws, ctx),
        ]
        if not config.skip_create_ami:
            plan += [
                s.StepCreateAMI(config, aws, ctx),
                s.StepAMIRegionCopy(config, aws, ctx),
                s.StepDeprecate(config, aws, ctx),
                s.StepModifyAMIAttributes(config, aws, ctx),
                s.StepCreateTags(config, aws, ctx),
            ]
        run_steps(ctx, plan, state, ui)
        if "amis" not in state:
            return None
        return AmiArtifact(state["amis"], aws, state["generated_data"])
