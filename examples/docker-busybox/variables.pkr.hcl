variable "base_image" {
  type        = string
  default     = "local/busybox:test"
  description = "The image to start from."
}

variable "repository" {
  type    = string
  default = "local/kiln-example"
}

variable "tags" {
  type    = list(string)
  default = ["latest"]
}

variable "greeting" {
  type    = string
  default = "hello from kiln"
  validation {
    condition     = length(var.greeting) > 0
    error_message = "The greeting must not be empty."
  }
}
