# The smallest build that needs no machine: the file builder writes a file, a
# local shell post-processor reports it, and a chain compresses it and checksums
# the archive.
#   kiln build -force examples/file-local
variable "greeting" {
  type        = string
  default     = "Built by kiln."
  description = "What the message of the day says."
}

locals {
  output = "${path.root}/output"
}

source "file" "motd" {
  content = "${var.greeting}\n"
  target  = "${local.output}/motd.txt"
}

build {
  sources = ["source.file.motd"]

  post-processor "shell-local" {
    inline = ["echo \"${source.name}: $(cat ${local.output}/motd.txt)\""]
  }

  post-processors {
    post-processor "compress" {
      output              = "${local.output}/motd.tar.gz"
      keep_input_artifact = true
    }
    post-processor "checksum" {
      checksum_types = ["sha256"]
      output         = "${local.output}/{{.BuildName}}.{{.ChecksumType}}"
    }
  }
}
