// Placeholder until app/daemon lands.
int main() { return 0; }
