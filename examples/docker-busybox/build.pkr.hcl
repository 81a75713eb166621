locals {
  build_date = formatdate("YYYY-MM-DD", timestamp())
  all_tags   = concat(var.tags, [local.build_date])
  motd       = format("%s (built %s)", title(var.greeting), local.build_date)
}

source "docker" "busybox" {
  image  = var.base_image
  pull   = false # made locally (scripts/make-busybox-image): nothing to pull
  commit = true
  changes = [
    "LABEL org.example.built=${local.build_date}",
    "WORKDIR /etc/kiln",
  ]
}

build {
  name    = "busybox"
  sources = ["source.docker.busybox"]

  provisioner "shell" {
    inline = [
      "mkdir -p /etc/kiln",
      "echo '${local.motd}' > /etc/kiln/motd",
    ]
  }

  provisioner "file" {
    source      = "${path.root}/files/hello.txt"
    destination = "/etc/kiln/hello.txt"
  }

  post-processors {
    post-processor "docker-tag" {
      repository = var.repository
      tags       = local.all_tags
    }
    post-processor "manifest" {
      output     = "${path.root}/output/manifest.json"
      strip_path = true
      custom_data = {
        repository = var.repository
        source     = source.name
      }
    }
  }
}
