# The plugins this template needs. `kiln init` (coming with the plugin issues) resolves
# them into a lock file next to the template; Packer 1.6.6 predates this block.
packer {
  required_version = ">= 1.6.6"
  required_plugins {
    docker = {
      source  = "github.com/hashicorp/docker"
      version = ">= 1.0.0"
    }
  }
}
