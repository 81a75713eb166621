# A build that needs a plugin: the manifest post-processor comes from the
# kiln-plugin-manifest distribution, which `kiln init` installs from a package
# index and pins in .kiln.lock.hcl. scripts/main publishes the repository's own
# plugins into a local index first:
#   scripts/publish-plugins .kiln-index
#   KILN_INDEX_URL=file://$PWD/.kiln-index/simple/ kiln init examples/manifest
#   kiln build -force examples/manifest
packer {
  required_plugins {
    manifest = {
      source  = "github.com/hashicorp/manifest"
      version = ">= 0.1.0"
    }
  }
}

variable "release" {
  type    = string
  default = "2026.11"
}

locals {
  output = "${path.root}/output"
}

source "file" "release-notes" {
  content = "Release ${var.release}, built by kiln.\n"
  target  = "${local.output}/release-notes.txt"
}

build {
  sources = ["source.file.release-notes"]

  post-processor "manifest" {
    output     = "${local.output}/manifest.json"
    strip_path = true
    custom_data = {
      release = var.release
      source  = source.name
    }
  }
}
