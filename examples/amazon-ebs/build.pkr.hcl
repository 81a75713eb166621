# An AMI on AWS: needs credentials (the environment, a profile or an instance role).
# `kiln validate` checks it without them; `kiln build` makes the AMI. To try it
# against moto's EC2 emulator instead, set custom_endpoint_ec2 (see
# plugins/builder-amazon/README.md).
packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 0.1.0"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "allowed_cidr" {
  type        = string
  default     = "203.0.113.0/24"
  description = "Who may reach the build instance's SSH port while it runs."
}

locals {
  stamp = formatdate("YYYYMMDDhhmmss", timestamp())
}

source "amazon-ebs" "debian" {
  region        = var.region
  instance_type = "t3.micro"
  ssh_username  = "admin"
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      virtualization-type = "hvm"
    }
    owners      = ["136693071363"]
    most_recent = true
  }
  ami_name     = "kiln-debian-${local.stamp}"
  ami_regions  = ["eu-central-1"]
  encrypt_boot = true
  tags = {
    Base    = "{{.SourceAMIName}}"
    BuiltBy = "kiln"
  }

  temporary_security_group_source_cidrs = [var.allowed_cidr]
}

build {
  sources = ["source.amazon-ebs.debian"]

  provisioner "shell" {
    inline = [
      "sudo apt-get update",
      "sudo apt-get install -y --no-install-recommends nginx",
    ]
  }
}
