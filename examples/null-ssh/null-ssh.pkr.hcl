variable "host" {
  type        = string
  default     = "127.0.0.1"
  description = "The machine to provision over SSH."
}

variable "port" {
  type    = number
  default = 22
  validation {
    condition     = var.port > 0 && var.port < 65536
    error_message = "The port must be between 1 and 65535."
  }
}

variable "username" {
  type    = string
  default = "root"
}

variable "private_key_file" {
  type        = string
  default     = ""
  description = "An SSH private key; when empty, the keys of your ssh-agent are used."
}

variable "packages" {
  type    = list(string)
  default = ["curl", "ca-certificates"]
}

locals {
  install = "apt-get install -y ${join(" ", var.packages)}"
  marker  = "/var/tmp/kiln-${lower(replace(var.host, ".", "-"))}"
}

source "null" "remote" {
  communicator         = "ssh"
  ssh_host             = var.host
  ssh_port             = var.port
  ssh_username         = var.username
  ssh_private_key_file = var.private_key_file
  ssh_agent_auth       = var.private_key_file == ""
  ssh_timeout          = "2m"
}

build {
  sources = ["source.null.remote"]

  provisioner "shell" {
    inline = [
      "uname -a",
      "echo '${local.install}' > ${local.marker}",
    ]
  }

  provisioner "shell-local" {
    inline = ["echo provisioned ${var.username}@${var.host}:${var.port}"]
  }
}
