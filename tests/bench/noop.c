/* bench-noop-static (and run.sh's dynamic twin): a program that does nothing,
 * to time what fork + exec + exit themselves cost. */
int main(void)
{
    return 0;
}
