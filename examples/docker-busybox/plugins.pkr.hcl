# The plugins this template needs. `kiln init` resolves them against a package index
# into .kiln.lock.hcl next to the template and installs what the lock pins; Packer
# 1.6.6 predates this block. scripts/main publishes the repository's own plugins
# into a local index first:
#   scripts/publish-plugins .kiln-index
#   KILN_INDEX_URL=file://$PWD/.kiln-index/simple/ kiln init examples/docker-busybox
packer {
  required_version = ">= 1.6.6"
  required_plugins {
    docker = {
      source  = "github.com/hashicorp/docker"
      version = ">= 0.1.0"
    }
    manifest = {
      source  = "github.com/hashicorp/manifest"
      version = ">= 0.1.0"
    }
  }
}
