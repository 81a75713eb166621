# Point the build at your own machine:
#   kiln validate -var-file=examples/null-ssh/example.pkrvars.hcl examples/null-ssh
host     = "192.0.2.10"
port     = 2222
username = "admin"
packages = ["curl"]
