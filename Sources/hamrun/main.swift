print("hamrun")
